-- One row per successfully scored filing. A score is known lag_days NYSE sessions after
-- its filing date; a filing on a non-session day counts from the previous session, as if
-- filed after that session's close (same as research.calendar.add_trading_days).
with scores as (
    select
        {{ cik('cik') }} as cik,
        ticker,
        accession,
        form,
        cast(filing_date as date) as filing_date,
        cast(report_date as date) as report_date,
        cast(cnoi as double) as cnoi,
        cast(d as double) as d,
        cast(g as double) as g,
        cast(r as double) as r,
        cast(j as double) as j,
        cast(t as double) as t,
        cast(s as double) as s,
        cast(x as double) as x,
        rubric_version
    from {{ source('disclosure', 'cnoi_scores') }}
    where status = 'ok' and cnoi is not null
),

calendar as (
    select date, session_index from {{ ref('stg_trading_calendar') }}
)

select
    scores.*,
    known.date as known_date,
    cast({{ var('lag_days') }} as integer) as lag_days
from scores
asof left join calendar as filed
    on filed.date <= scores.filing_date
left join calendar as known
    on known.session_index = filed.session_index + {{ var('lag_days') }}
