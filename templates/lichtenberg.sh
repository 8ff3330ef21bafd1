{# TU Darmstadt Lichtenberg (SLURM + Lmod). Used by mobcg.environments.LichtenbergEnvironment.
   Extends flow's slurm.sh: job name, --mem, --partition, -t, --output and --ntasks come from
   there (from the operations' np / memory / walltime directives). #}
{% extends "slurm.sh" %}
{% set ns = environment.__name__ %}
{% set account = account|default(project|get_config_value('account', ns=ns, default=''), true) %}
{% set partition = partition|default(project|get_config_value('partition', ns=ns, default=''), true) %}
{% set modules = modules|default(project|get_config_value('modules', ns=ns, default=''), true) %}
{% set lmp = lmp|default(project|get_config_value('lmp', ns=ns, default=''), true) %}
{% set launcher = launcher|default(project|get_config_value('launcher', ns=ns, default=''), true) %}
{% block header %}
    {{- super() -}}
    {% if account %}
#SBATCH --account={{ account }}
    {% endif %}
    {% if gpus %}
#SBATCH --gres=gpu:{{ gpus }}
    {% endif %}
{% endblock header %}
{% block custom_content %}
    {% if modules %}
        {% for module in modules.replace(',', ' ').split() %}
module load {{ module }}
        {% endfor %}
    {% endif %}
    {% if lmp %}
export MOBCG_LMP={{ lmp|quote_argument }}
    {% endif %}
    {% if launcher %}
export MOBCG_MPIRUN={{ launcher|quote_argument }}
    {% endif %}
{% endblock custom_content %}
