"""Chorus core: conversation trees, tasks, review, consensus and the service API every front end calls."""
