"""The FastAGI IVR application: flows, prompts, DTMF and speech input."""
