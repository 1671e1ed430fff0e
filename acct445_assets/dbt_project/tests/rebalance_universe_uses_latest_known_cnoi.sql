{{ config(meta={'dagster': {'ref': {'name': 'rebalance_universe'}}}) }}
-- Each bank in the universe at d carries its latest CNOI known on or before d, and every
-- priced bank with a fresh-enough known CNOI at d is in the universe.
-- An incremental run checks the rebalance dates it rebuilt (see _marts.yml).
{%- set rebuilt_from = "cast('" ~ env_var('ACCT445_RETURNS_FROM', '0001-01-01') ~ "' as date)" %}
with universe as (
    select * from {{ ref('rebalance_universe') }} where rebalance_date >= {{ rebuilt_from }}
),

latest as (
    select returns.date as rebalance_date, returns.cik, max(scores.known_date) as known_date
    from {{ ref('stg_bank_returns') }} as returns
    inner join (select distinct rebalance_date from universe) as dates
        on dates.rebalance_date = returns.date
    inner join {{ ref('stg_cnoi') }} as scores
        on scores.cik = returns.cik and scores.known_date <= returns.date
    group by returns.date, returns.cik
    having date_diff('day', max(scores.known_date), returns.date) <= {{ var('max_signal_age') }}
)

select
    coalesce(latest.rebalance_date, universe.rebalance_date) as rebalance_date,
    coalesce(latest.cik, universe.cik) as cik,
    latest.known_date as expected_known_date,
    universe.cnoi_known_date
from latest
full outer join universe
    on universe.rebalance_date = latest.rebalance_date and universe.cik = latest.cik
where universe.cnoi_known_date is distinct from latest.known_date
