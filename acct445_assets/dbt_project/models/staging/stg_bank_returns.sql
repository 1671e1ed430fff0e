-- Daily simple returns from adjusted closes; on the day the source marks a bank delisted
-- the delisting return compounds with that day's price return (METHODS.md rule 0).
with prices as (
    select
        cast(date as date) as date,
        {{ cik('cik') }} as cik,
        ticker,
        cast(adj_close as double) as adj_close,
        cast(shares_outstanding as double) as shares_outstanding,
        coalesce(delisted, false) as delisted
    from {{ source('raw', 'bank_prices') }}
    where cik is not null and adj_close is not null
),

price_returns as (
    select
        *,
        adj_close / lag(adj_close) over (partition by cik order by date) - 1 as price_ret
    from prices
)

select
    date,
    cik,
    ticker,
    adj_close,
    case
        when delisted
            then (1 + coalesce(price_ret, 0)) * (1 + cast({{ var('delisting_return') }} as double)) - 1
        else price_ret
    end as ret,
    adj_close * shares_outstanding as market_value,
    delisted
from price_returns
