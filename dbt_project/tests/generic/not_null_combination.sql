{# None of the key columns is null. #}
{% test not_null_combination(model, columns) %}
select *
from {{ model }}
where {% for c in columns %}{{ c }} is null{{ " or " if not loop.last }}{% endfor %}
{% endtest %}
