"""euca2ools-style commands (`euca-*`, `euca_conf`) on botocore against a mallee cloud.

Every command is a console script pointing at `mallee.euca.main:main`, which picks the command
by the name it was run as. A command is a `Command` (see `command.py`) listed in `registry.py`.
"""
