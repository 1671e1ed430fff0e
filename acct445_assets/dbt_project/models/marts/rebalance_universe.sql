-- METHODS.md section 3: at each rebalance date d (the last NYSE session of each quarter,
-- or month, within the price history) the banks priced on d whose latest CNOI known on or
-- before d is at most max_signal_age calendar days old (counted from its known date).
--
-- Incremental: a run rebuilds the rebalance dates after the table's last one and from
-- ACCT445_RETURNS_FROM on (the rows of d depend only on the prices of d); delete+insert by date. Only
-- prices may have changed since the last build: the asset rebuilds in full when CNOI scores
-- or a var changed.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='rebalance_date') }}

{%- set returns_from = returns_from_var() %}
with calendar as (
    select * from {{ ref('stg_trading_calendar') }}
),

price_span as (
    select min(date) as first_date, max(date) as last_date from {{ ref('stg_bank_returns') }}
),

rebalance_dates as (
    select calendar.date as rebalance_date
    from calendar, price_span
    where calendar.date between price_span.first_date and price_span.last_date
    {% if rebalance_frequency() == 'monthly' -%}
        and calendar.is_month_end
    {%- else -%}
        and calendar.is_quarter_end
    {%- endif %}
    {%- if is_incremental() %}
        and (
            calendar.date > (select coalesce(max(rebalance_date), date '0001-01-01') from {{ this }})
            {%- if returns_from %} or calendar.date >= date '{{ returns_from }}'{% endif %}
        )
    {%- endif %}
),

priced as (
    select
        rebalance_dates.rebalance_date,
        returns.cik,
        returns.ticker,
        returns.adj_close,
        returns.market_value
    from rebalance_dates
    inner join {{ ref('stg_bank_returns') }} as returns
        on returns.date = rebalance_dates.rebalance_date
),

known_cnoi as (
    {{ cnoi_known_by_date() }}
)

select
    priced.rebalance_date,
    priced.cik,
    priced.ticker,
    known_cnoi.cnoi,
    known_cnoi.known_date as cnoi_known_date,
    known_cnoi.accession as cnoi_accession,
    priced.adj_close,
    priced.market_value
from priced
asof inner join known_cnoi
    on known_cnoi.cik = priced.cik
    and known_cnoi.known_date <= priced.rebalance_date
where date_diff('day', known_cnoi.known_date, priced.rebalance_date) <= {{ var('max_signal_age') }}
