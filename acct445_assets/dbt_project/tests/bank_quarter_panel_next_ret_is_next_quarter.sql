{{ config(meta={'dagster': {'ref': {'name': 'bank_quarter_panel'}}}) }}
-- Row q pairs q's own controls with q+1's return (METHODS 7): next_ret must be the
-- following quarter's ret, and present only when that quarter exists.
with panel as (
    select *, {{ quarter_number_of_label('quarter') }} as quarter_number
    from {{ ref('bank_quarter_panel') }}
)

select panel.cik, panel.quarter
from panel
left join panel as following
    on following.cik = panel.cik
    and following.quarter_number = panel.quarter_number + 1
where (
        (following.ret is null) != (panel.next_ret is null)
        or abs(following.ret - panel.next_ret) > 1e-12
    )
    -- An incremental run checks the quarters it rebuilt (see _marts.yml).
    and panel.quarter_end >= cast(
        date_trunc('quarter', cast('{{ env_var('ACCT445_RETURNS_FROM', '0001-01-01') }}' as date)) - interval 3 month
        as date)
