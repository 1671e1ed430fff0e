-- Compounded monthly returns, dated at the calendar month end (as the monthly factors are).
--
-- Incremental: a run rebuilds the table's last month and every later one (the new sessions
-- are after stg_bank_returns' last one, which is in that month), and every month from that
-- of ACCT445_RETURNS_FROM on; the other months' sessions are as they were (delete+insert by month).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month_end') }}

{%- set returns_from = returns_from_var() %}
select
    cik,
    arg_max(ticker, date) as ticker,
    last_day(date) as month_end,
    product(1 + ret) - 1 as ret,
    arg_max(market_value, date) as market_value,
    cast(count(*) as integer) as n_days
from {{ ref('stg_bank_returns') }}
where ret is not null
{%- if is_incremental() %}
    and date >= (
        select cast(date_trunc('month', least(
            coalesce(max(month_end), date '0001-01-01')
            {%- if returns_from %}, date '{{ returns_from }}'{% endif %}
        )) as date)
        from {{ this }}
    )
{%- endif %}
group by cik, last_day(date)
