-- Daily total returns per bank under the shared price contract (METHODS.md 0):
--   ret = the source's own return where it has one (CRSP ret / dlyret), else
--         (close * split_ratio + dividend) / previous close - 1 when both closes are known,
--         else adj_close / previous adj_close - 1;
--   on a delisting day the delisting return (the source's, else var delisting_return)
--   compounds in, unless the source's ret already includes it (CRSP v2 dlyret: a source ret
--   with no separate delisting return).
--   market_value = unadjusted close x shares outstanding known at the date; NULL when either
--   is missing (never the back-adjusted close, never a later shares value).
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
),

price_returns as (
    select
        *,
        coalesce(
            source_ret,
            case
                when close is not null and lag(close) over w is not null
                    then (close * split_ratio + dividend) / lag(close) over w - 1
            end,
            adj_close / lag(adj_close) over w - 1
        ) as price_ret
    from prices
    window w as (partition by cik order by date)
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
