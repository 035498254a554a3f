"""Custom schemathesis checks for the contract test (loaded through SCHEMATHESIS_HOOKS).

`refused_only_as_documented`: a request the schema says is valid may be refused only for a reason the
operation documents, with a code other than the generic ones that mean "the schema let it through but
the server's own validation did not" (`validation_error`, `malformed_json`). The documented codes
themselves (a non-public URL, an unknown time zone…) are checked by schemathesis's
response_schema_conformance against each response's `error.code` enum.
"""

from __future__ import annotations

from typing import Any

import schemathesis

GENERIC_REFUSALS = {"validation_error", "malformed_json"}


@schemathesis.check
def refused_only_as_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if code in GENERIC_REFUSALS:
        raise AssertionError(
            f"a schema-valid request was refused as {response.status_code} {code}: the published "
            f"schema accepts what the server's validation refuses\n{response.text[:500]}"
        )
    return None
