"""Tests of the local world (ebb.local): the clock, the runtime and the template they run."""
