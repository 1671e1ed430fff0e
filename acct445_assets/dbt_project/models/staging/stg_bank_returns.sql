-- Daily total returns per bank under the shared price contract (METHODS.md 0):
--   ret = the source's own return where it has one (CRSP ret / dlyret), else
--         (close * split_ratio + dividend) / previous close - 1 when both closes are known,
--         else adj_close / previous adj_close - 1;
--   on a delisting day the delisting return (the source's, else var delisting_return)
--   compounds in, unless the source's ret already includes it (CRSP v2 dlyret: a source ret
--   with no separate delisting return).
--   market_value = unadjusted close x shares outstanding known at the date; NULL when either
--   is missing (never the back-adjusted close, never a later shares value).
--
-- Incremental: a run rebuilds only the sessions after the last one in the table, and every
-- session from ACCT445_RETURNS_FROM on when it is set (a re-ingested partition); each bank's
-- previous row before the rebuilt sessions comes from the table by an as-of join. A full
-- refresh runs the same query with no earlier rows, so both paths give the same rows.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='date') }}

{%- set returns_from = returns_from_var() %}

with prices as (
    select
        cast(date as date) as date,
        {{ cik('cik') }} as cik,
        ticker,
        cast(adj_close as double) as adj_close,
        cast(close as double) as close,
        coalesce(cast(dividend as double), 0) as dividend,
        coalesce(cast(split_ratio as double), 1) as split_ratio,
        cast(ret as double) as source_ret,
        cast(delisting_return as double) as source_delisting_return,
        cast(shares_outstanding as double) as shares_outstanding,
        coalesce(delisted, false) as delisted
    from {{ source('raw', 'bank_prices') }}
    where cik is not null and adj_close is not null
    {%- if is_incremental() %}
        and (
            cast(date as date) > (select coalesce(max(date), date '0001-01-01') from {{ this }})
            {%- if returns_from %} or cast(date as date) >= date '{{ returns_from }}'{% endif %}
        )
    {%- endif %}
),

-- Each bank's last row before the rebuilt sessions (none on a full refresh).
earlier as (
    {%- if is_incremental() %}
    select cik, date, close, adj_close
    from {{ this }}
    where date < (select min(date) from prices)
    {%- else %}
    select cast(null as varchar) as cik, cast(null as date) as date,
        cast(null as double) as close, cast(null as double) as adj_close
    where false
    {%- endif %}
),

with_earlier as (
    select
        p.*,
        e.close as earlier_close,
        e.adj_close as earlier_adj_close
    from prices as p
    asof left join earlier as e on p.cik = e.cik and p.date > e.date
),

with_previous as (
    select
        *,
        case when row_number() over w = 1 then earlier_close else lag(close) over w end
            as prev_close,
        case when row_number() over w = 1 then earlier_adj_close else lag(adj_close) over w end
            as prev_adj_close
    from with_earlier
    window w as (partition by cik order by date)
),

price_returns as (
    select
        *,
        coalesce(
            source_ret,
            case
                when close is not null and prev_close is not null
                    then (close * split_ratio + dividend) / prev_close - 1
            end,
            adj_close / prev_adj_close - 1
        ) as price_ret
    from with_previous
)

select
    date,
    cik,
    ticker,
    adj_close,
    close,
    case
        when delisted and not (source_ret is not null and source_delisting_return is null)
            then (1 + coalesce(price_ret, 0))
                * (1 + coalesce(source_delisting_return, cast({{ var('delisting_return') }} as double))) - 1
        else price_ret
    end as ret,
    close * shares_outstanding as market_value,
    shares_outstanding,
    delisted
from price_returns
