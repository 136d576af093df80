"""The end user's pages, one module per flow: ``signin`` (password, challenge), ``register``
(*More information required*), ``password`` (*Update your password*), ``recovery`` (*Don't
lose access to your account!*), ``reset`` (*Forgot my password*), ``setup`` (*Additional
security verification* and app passwords), ``telephony`` (the gateway's call results).

Views are thin: the rules and every state change are in ``mfaportal.mfa``."""
