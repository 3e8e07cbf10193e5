"""The library every Lambda zip carries (shared/README.md).

Importing it installs `shared.lazy`'s import hook: a function then imports the Powertools modules
it uses, not every resolver and event class Powertools re-exports (it imports nothing itself).
"""

from shared.lazy import install

install()
