{# Point-in-time rule: the CNOI a row uses must be known (per stg_cnoi, not per the row's own
   copy of the date) on or before the row's decision date. #}
{% test known_by(model, column_name, decision_date) %}
with rows_under_test as (
    select * from {{ model }}
)

select rows_under_test.*, scores.known_date as scores_known_date
from rows_under_test
inner join {{ ref('stg_cnoi') }} as scores
    on scores.accession = rows_under_test.{{ column_name }}
where scores.known_date > rows_under_test.{{ decision_date }}
   or scores.known_date is null
   or scores.cik <> rows_under_test.cik
{% endtest %}
