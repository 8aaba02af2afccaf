"""Privacy under PIPA: the published policy, consents given at sign-up (and again for a new policy), and the
requests a person makes about their own data (view, export, correction, deletion, suspension), answered in the portal.
"""
