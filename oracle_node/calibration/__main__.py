"""``python -m oracle_node.calibration``: see :mod:`oracle_node.calibration.cli`."""

from oracle_node.calibration.cli import main

main()
