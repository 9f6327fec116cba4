"""`pockettorch sdk c`: a C SDK for one model (typed header, runtime sources, CMake + make, example.c).

`generate` renders the files (templates under sdk_templates/templates/c/); `command` is the click command.
The --embed profile (model in a const array, no heap, files or threads) runs on the embedded platform layer.
"""
