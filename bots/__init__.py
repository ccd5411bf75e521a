"""Chorus front ends: thin adapters from platform events to the core's service API."""
