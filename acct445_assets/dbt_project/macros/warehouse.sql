{% macro cik(expression) -%}
    lpad(trim(cast({{ expression }} as varchar)), 10, '0')
{%- endmacro %}

{% macro quarter_number(date_expression) -%}
    (year({{ date_expression }}) * 4 + quarter({{ date_expression }}) - 1)
{%- endmacro %}

{% macro quarter_label(number_expression) -%}
    (cast(({{ number_expression }}) // 4 as varchar) || 'Q' || cast(({{ number_expression }}) % 4 + 1 as varchar))
{%- endmacro %}

{# '2020Q1' -> 4 x 2020 + 0; NULL when the label is not of that form. #}
{% macro quarter_number_of_label(label_expression) -%}
    case when regexp_full_match({{ label_expression }}, '\d{4}Q[1-4]')
         then cast(left({{ label_expression }}, 4) as integer) * 4
              + cast(right({{ label_expression }}, 1) as integer) - 1
    end
{%- endmacro %}

{# One CNOI per (bank, known date): when several filings become known the same session,
   the last one in filing order wins (acct445_assets.research.stats.latest_known does the same). #}
{% macro cnoi_known_by_date() -%}
    select cik, known_date, cnoi, accession
    from {{ ref('stg_cnoi') }}
    qualify row_number() over (
        partition by cik, known_date order by filing_date desc, accession desc
    ) = 1
{%- endmacro %}

{% macro rebalance_frequency() -%}
    {%- set frequency = var('rebalance') -%}
    {%- if frequency not in ['quarterly', 'monthly'] -%}
        {{ exceptions.raise_compiler_error("var rebalance=" ~ frequency ~ " must be 'quarterly' or 'monthly'") }}
    {%- endif -%}
    {{ return(frequency) }}
{%- endmacro %}

{# The first session a re-ingested bank_prices partition (re)wrote; incremental models rebuild
   from it on as well as after their own last rows. Checked: it is pasted into SQL. An
   environment variable, not a var: a var that changes every day would make dbt re-parse the
   whole project at every run (its partial parse is keyed by the vars); a changed env var
   re-parses only the files that read it. #}
{% macro returns_from_var() -%}
    {%- set value = env_var('ACCT445_RETURNS_FROM', '') or none -%}
    {%- if value and not modules.re.fullmatch('\d{4}-\d{2}-\d{2}', value | string) -%}
        {{ exceptions.raise_compiler_error("ACCT445_RETURNS_FROM=" ~ value ~ " must be a YYYY-MM-DD date") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
