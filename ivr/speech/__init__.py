"""Speech input of the IVR: AudioSocket audio from Asterisk, recognised by Vosk with a grammar.

Imports the standard library and, lazily in ``recognizer``, the optional ``vosk`` package.
"""
