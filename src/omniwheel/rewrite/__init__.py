"""Rewriting wheels: retagging (new tags, renamed extension modules) and repair (vendoring).

Every rewrite goes through ``omniwheel.wheel.writer`` so that RECORD, WHEEL and
the filename stay consistent and the output appears atomically.
"""
