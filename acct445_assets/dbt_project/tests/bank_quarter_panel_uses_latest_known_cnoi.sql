{{ config(meta={'dagster': {'ref': {'name': 'bank_quarter_panel'}}}) }}
-- Each panel row carries the latest CNOI known on or before its quarter_end: no score of
-- the same bank became known in (cnoi_known_date, quarter_end], nor before a row left empty.
select panel.cik, panel.quarter, panel.cnoi_known_date, scores.accession, scores.known_date
from {{ ref('bank_quarter_panel') }} as panel
inner join {{ ref('stg_cnoi') }} as scores
    on scores.cik = panel.cik
    and scores.known_date <= panel.quarter_end
    and (panel.cnoi_known_date is null or scores.known_date > panel.cnoi_known_date)
-- An incremental run checks the quarters it rebuilt (see _marts.yml).
where panel.quarter_end >= cast(
    date_trunc('quarter', cast('{{ env_var('ACCT445_RETURNS_FROM', '0001-01-01') }}' as date)) - interval 3 month
    as date)
