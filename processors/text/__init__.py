"""Weather text as a forecasting input: a sentence encoder, its fine-tuning, a text regressor.

``encoder`` embeds short texts with MiniLM (all-MiniLM-L6-v2, shipped in a wheel, loaded
offline), caching each distinct text; ``finetune`` fine-tunes it against load and yields a
few text features per text; ``descriptions`` turns OpenWeather rows into one text per
place and hour; ``regressor`` is the direct model kind ``text_regressor``.
"""
