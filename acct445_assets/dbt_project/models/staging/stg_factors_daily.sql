-- Ken French publishes percent; everything downstream uses decimals.
select
    cast(date as date) as date,
    mkt_rf / 100.0 as mkt_rf,
    smb / 100.0 as smb,
    hml / 100.0 as hml,
    rmw / 100.0 as rmw,
    cma / 100.0 as cma,
    rf / 100.0 as rf,
    mom / 100.0 as mom
from {{ source('raw', 'ff_factors_daily') }}
