"""Traffic for replay: trace readers, the fixed service model and trace scaling.

Pure Python and numpy, no AWS and no local world, so the simulator and the demo share one reading
of a trace file and one definition of "served".
"""
