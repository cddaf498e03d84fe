from nurture.core.normalise.emails import normalize_email
from nurture.core.normalise.errors import NormalisationError
from nurture.core.normalise.names import NameParts, clean_name, fold, greeting, split_name
from nurture.core.normalise.phones import OLD_MOBILE_PREFIXES, is_phone_like, normalize_phone

__all__ = [
    "OLD_MOBILE_PREFIXES",
    "NameParts",
    "NormalisationError",
    "clean_name",
    "fold",
    "greeting",
    "is_phone_like",
    "normalize_email",
    "normalize_phone",
    "split_name",
]
