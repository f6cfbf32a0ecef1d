"""Vollsmose Guide: a multilingual Telegram bot that guides residents to local offers."""
