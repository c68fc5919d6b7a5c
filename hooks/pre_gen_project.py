"""Refuse answers that would generate a broken project, before anything is written.

Cookiecutter renders this file with Jinja and runs it inside the new project
folder; when it exits non-zero, cookiecutter deletes that folder again.

The answers arrive percent-encoded (Jinja's ``urlencode``) inside ordinary
string literals, so that no quote or backslash in an answer can break this
file, and so that the tests can import it unrendered: everything but
``ANSWERS`` is a pure function of its arguments.
"""

import keyword
import re
import sys
from urllib.parse import unquote

ANSWERS = {
    "project_name": "{{ cookiecutter.project_name | urlencode }}",
    "project_slug": "{{ cookiecutter.project_slug | urlencode }}",
    "email": "{{ cookiecutter.email | urlencode }}",
    "version": "{{ cookiecutter.version | urlencode }}",
    "open_source_license": "{{ cookiecutter.open_source_license | urlencode }}",
    "include_sample_app": "{{ cookiecutter.include_sample_app | urlencode }}",
    "use_github_actions": "{{ cookiecutter.use_github_actions | urlencode }}",
}

LICENSES = ("MIT", "BSD-3-Clause", "Apache-2.0", "Not open source")
YES_NO_OPTIONS = ("include_sample_app", "use_github_actions")

# Names a project must not take. The slug names the project folder and, with
# dashes, its pip distribution: a project called "django" or "channels-redis"
# cannot depend on the package it replaces, and next to the project's own
# packages a same-named folder only confuses imports.
RESERVED_NAMES = frozenset(
    {
        # the generated project's own top-level packages and modules
        "bench",
        "config",
        "discussion",
        "manage",
        "realtime_api",
        "test",  # the standard library's own tests (not in sys.stdlib_module_names)
        "tests",
        # what it imports, by import name and by distribution name
        "asgiref",
        "channels",
        "channels_redis",
        "daphne",
        "django",
        "django_environ",
        "django_filter",
        "django_filters",
        "djangorestframework",
        "drf_spectacular",
        "drf_spectacular_sidecar",
        "environ",
        "prometheus_client",
        "psycopg",
        "pytest",
        "pytest_asyncio",
        "pytest_django",
        "pytest_timeout",
        "redis",
        "rest_framework",
        "rich",
        "ruff",
        "setuptools",
        "twisted",
        "websockets",
        "whitenoise",
        "yaml",
    }
)

# Canonical PEP 440 version pattern, from
# https://packaging.python.org/en/latest/specifications/version-specifiers/#appendix-parsing-version-strings-with-regular-expressions
PEP440_VERSION = re.compile(
    r"""
    v?
    (?:
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>[-_\.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_\.]?(?P<pre_n>[0-9]+)?)?
        (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_\.]?(?P<post_l>post|rev|r)[-_\.]?(?P<post_n2>[0-9]+)?))?
        (?P<dev>[-_\.]?(?P<dev_l>dev)[-_\.]?(?P<dev_n>[0-9]+)?)?
    )
    (?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?
    """,
    re.VERBOSE | re.IGNORECASE,
)

# Deliberately narrower than RFC 5322: the address is written into TOML,
# Python and YAML files, where quotes, spaces or commas would need escaping.
EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]+"  # local part
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"  # first domain label
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"  # at least one more label
)


def decode_answers(encoded):
    """Return the answers with Jinja's percent-encoding undone."""
    return {name: unquote(value) for name, value in encoded.items()}


def check_project_name(name):
    """Return an error message if the project name is empty, else None."""
    if not name.strip():
        return "project_name is empty. Give the project a name, e.g. project_name='Realtime API'."
    return None


def check_slug(slug):
    """Return an error message if the slug cannot name the project's folder and distribution, else None."""
    hint = "Give a lowercase ASCII name such as project_slug='realtime_api_site'."
    if not (slug.isascii() and slug.isidentifier()):
        return (
            f"project_slug {slug!r} is not a valid Python identifier: use only ASCII "
            f"letters, digits and underscores, not starting with a digit. {hint}"
        )
    if slug.startswith("_") or slug.endswith("_"):
        return (
            f"project_slug {slug!r} starts or ends with an underscore: with dashes for underscores it "
            f"also names the project's distribution, which must start and end with a letter or digit. {hint}"
        )
    if keyword.iskeyword(slug):
        return f"project_slug {slug!r} is a Python keyword. {hint}"
    lowered = slug.lower()
    if lowered in RESERVED_NAMES:
        return f"project_slug {slug!r} would clash with {lowered!r}, which the generated project uses. {hint}"
    if lowered in sys.stdlib_module_names:
        return f"project_slug {slug!r} would shadow the standard library module {lowered!r}. {hint}"
    return None


def check_email(email):
    """Return an error message if the email address is not a plain name@domain.tld, else None."""
    if EMAIL.fullmatch(email) is None:
        return (
            f"email {email!r} is not a valid address: expected name@example.com "
            "(letters, digits and . _ % + - before the @, a dotted domain after it)."
        )
    return None


def check_version(version):
    """Return an error message if the version is not a PEP 440 version, else None."""
    if PEP440_VERSION.fullmatch(version) is None:
        return f"version {version!r} is not a PEP 440 version: use something like '0.1.0' or '1.0.0rc1'."
    return None


def check_license(license_name):
    """Return an error message if the license is not one the template ships, else None."""
    if license_name not in LICENSES:
        choices = ", ".join(repr(choice) for choice in LICENSES)
        return f"open_source_license {license_name!r} is not one of {choices}."
    return None


def check_yes_no(option, value):
    """Return an error message if a y/n option is anything but 'y' or 'n', else None."""
    if value not in ("y", "n"):
        return f"{option} must be 'y' or 'n', not {value!r}."
    return None


def validate(answers):
    """Return the list of error messages for a dict of decoded answers (empty when all is well)."""
    errors = [
        check_project_name(answers["project_name"]),
        check_slug(answers["project_slug"]),
        check_email(answers["email"]),
        check_version(answers["version"]),
        check_license(answers["open_source_license"]),
    ]
    errors += [check_yes_no(option, answers[option]) for option in YES_NO_OPTIONS]
    return [error for error in errors if error is not None]


def main():
    """Print every problem with the answers to stderr and exit 1, or return quietly."""
    errors = validate(decode_answers(ANSWERS))
    if errors:
        print("ERROR: cannot generate the project:", file=sys.stderr)
        for error in errors:
            print(f"  - {error}", file=sys.stderr)
        print("Nothing was generated. Fix the answers above and run cookiecutter again.", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
