-- Bank x calendar quarter: compounded return, sd of daily returns, market value at the
-- bank's last session of the quarter, next quarter's return when consecutive, CECL
-- adoption status, and the latest CNOI known on or before quarter_end. The panel
-- regression's controls for row q are q's own ret, volatility and log_mv (METHODS 7):
-- all known at quarter_end, the decision date of next_ret (q+1).
--
-- Incremental: a run rebuilds the table's last quarter and every later one, every quarter
-- from that of ACCT445_RETURNS_FROM on, and the quarter before the first of these (its next_ret
-- is that quarter's ret); delete+insert by quarter. Only prices may have changed since the
-- last build: the asset rebuilds in full when CNOI scores, CECL adoption or a var changed.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='quarter') }}

{%- set returns_from = returns_from_var() %}
with daily as (
    select *, {{ quarter_number('date') }} as quarter_number
    from {{ ref('stg_bank_returns') }}
    where ret is not null
    {%- if is_incremental() %}
        and date >= (
            select cast(date_trunc('quarter', least(
                coalesce(max(quarter_end), date '0001-01-01')
                {%- if returns_from %}, date '{{ returns_from }}'{% endif %}
            )) - interval 3 month as date)
            from {{ this }}
        )
    {%- endif %}
),

quarters as (
    select
        cik,
        quarter_number,
        arg_max(ticker, date) as ticker,
        max(date) as quarter_end,
        product(1 + ret) - 1 as ret,
        stddev_samp(ret) as volatility,
        cast(count(*) as integer) as n_days,
        arg_max(market_value, date) as market_value
    from daily
    group by cik, quarter_number
),

sequenced as (
    select
        *,
        lead(quarter_number) over bank = quarter_number + 1 as precedes_next,
        lead(ret) over bank as lead_ret
    from quarters
    window bank as (partition by cik order by quarter_number)
),

-- An explicit override beats a date read from a filing, which beats the default rule.
adoption as (
    select
        {{ cik('cik') }} as cik,
        adoption_quarter,
        {{ quarter_number_of_label('adoption_quarter') }} as adoption_quarter_number
    from {{ source('disclosure', 'cecl_adoption') }}
    qualify row_number() over (
        partition by {{ cik('cik') }}
        order by case source when 'override' then 0 when 'filing' then 1 else 2 end, adoption_date
    ) = 1
),

known_cnoi as (
    {{ cnoi_known_by_date() }}
)

select
    sequenced.cik,
    sequenced.ticker,
    {{ quarter_label('sequenced.quarter_number') }} as quarter,
    sequenced.quarter_end,
    sequenced.ret,
    sequenced.volatility,
    sequenced.n_days,
    sequenced.market_value,
    case when sequenced.market_value > 0 then ln(sequenced.market_value) end as log_mv,
    case when sequenced.precedes_next then sequenced.lead_ret end as next_ret,
    adoption.adoption_quarter,
    coalesce(sequenced.quarter_number >= adoption.adoption_quarter_number, false) as adopted,
    known_cnoi.cnoi,
    known_cnoi.known_date as cnoi_known_date,
    known_cnoi.accession as cnoi_accession
from sequenced
left join adoption
    on adoption.cik = sequenced.cik
asof left join known_cnoi
    on known_cnoi.cik = sequenced.cik
    and known_cnoi.known_date <= sequenced.quarter_end
