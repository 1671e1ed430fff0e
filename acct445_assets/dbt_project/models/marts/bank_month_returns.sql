-- Compounded monthly returns, dated at the calendar month end (as the monthly factors are).
select
    cik,
    arg_max(ticker, date) as ticker,
    last_day(date) as month_end,
    product(1 + ret) - 1 as ret,
    arg_max(market_value, date) as market_value,
    cast(count(*) as integer) as n_days
from {{ ref('stg_bank_returns') }}
where ret is not null
group by cik, last_day(date)
