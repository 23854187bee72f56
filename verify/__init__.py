"""citizen-verify. The domain's compiled build, when there is one of these very sources, is
chosen here, before anything imports ``verify.domain`` (verify/native.py)."""

from verify import native as _native

_native.install()
