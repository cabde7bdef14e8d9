"""Response templates: named texts with placeholders and per-channel variants (docs/TEMPLATES.md).

Not routing: a template is what to say, the rules decide where a conversation
goes. So this package sits beside ``router`` and ``channels`` (none of the
three imports another), reads its file through ``yamlmarks`` like the router
does, and is used by the layers above: the admin API, and the Slack jobs
(through the ``TemplateRenderer`` protocol ``channels.slack.deps`` declares).
"""

from templates.catalog import BUILTIN, Rendered, Template, TemplateSet
from templates.context import builtin_values
from templates.errors import TemplateFileError, TemplatesError
from templates.live import LiveTemplates
from templates.loader import load_templates_bytes, load_templates_text

__all__ = ["BUILTIN", "LiveTemplates", "Rendered", "Template", "TemplateFileError", "TemplateSet",
           "TemplatesError", "builtin_values", "load_templates_bytes", "load_templates_text"]
