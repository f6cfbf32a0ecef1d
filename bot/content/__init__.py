"""Content as data: typed models of flows/*.yaml and the loader that validates them."""

from bot.content.loader import Content, ContentError, Problem, load_content

__all__ = ["Content", "ContentError", "Problem", "load_content"]
