-- NYSE sessions with a running index, so "n sessions later" is an index lookup.
with sessions as (
    select distinct cast(date as date) as date
    from {{ source('raw', 'trading_calendar') }}
)

select
    date,
    cast(row_number() over (order by date) as integer) as session_index,
    date = max(date) over (partition by date_trunc('month', date)) as is_month_end,
    date = max(date) over (partition by date_trunc('quarter', date)) as is_quarter_end
from sessions
