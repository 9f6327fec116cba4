"""SDK generators: render typed Android (Kotlin + JNI), iOS (Swift package) and C/embedded SDKs for a .ptm.

Shared pieces: `model_info` (what a .ptm declares), `names` (identifiers safe in each language),
`sources` (the runtime sources a model needs: selective build), `render` (Jinja2 + deterministic writing).
Each target lives in its own module and contributes a subcommand to `pockettorch sdk` (see `cli`).
"""
