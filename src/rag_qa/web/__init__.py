"""The web chat: a thin Gradio layer over the engine (handlers, layout, views, uploads)."""
