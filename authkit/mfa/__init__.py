"""Second factors: TOTP, recovery codes, the sign-in challenge and step-up (docs/mfa.md)."""

from authkit.mfa.challenges import MFAChallenges
from authkit.mfa.policy import MethodProvider, MFAPolicy
from authkit.mfa.step_up import StepUpRequired, require_fresh

__all__ = ["MFAChallenges", "MFAPolicy", "MethodProvider", "StepUpRequired", "require_fresh"]
