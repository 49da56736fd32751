"""One weather text per place and hour, and a fixed table of paraphrases for robustness tests.

OpenWeather lists every condition that holds at once (``light rain`` and ``mist``) as rows
of their own; a place-hour's text is its distinct descriptions, sorted, joined by ", ".
"""

from collections.abc import Iterable, Mapping

__all__ = ["PARAPHRASES", "join_descriptions", "parts", "rewrite"]

#: OpenWeather descriptions and a paraphrase of each that OpenWeather never writes
#: (the test of descriptions a one-hot encoding has never seen).
PARAPHRASES: dict[str, str] = {
    "sky is clear": "clear skies",
    "few clouds": "a few clouds",
    "scattered clouds": "patchy clouds",
    "broken clouds": "mostly cloudy",
    "overcast clouds": "completely overcast",
    "light rain": "a little rain",
    "moderate rain": "steady rain",
    "heavy intensity rain": "heavy rain",
    "very heavy rain": "torrential rain",
    "light intensity drizzle": "a little drizzle",
    "drizzle": "drizzling",
    "light intensity shower rain": "light showers",
    "shower rain": "rain showers",
    "heavy intensity shower rain": "heavy showers",
    "proximity shower rain": "showers nearby",
    "thunderstorm": "thunder storm",
    "proximity thunderstorm": "thunderstorm nearby",
    "thunderstorm with rain": "thundery rain",
    "thunderstorm with light rain": "thunder with a little rain",
    "mist": "misty",
    "fog": "foggy",
    "haze": "hazy",
    "dust": "dusty air",
    "light snow": "a little snow",
    "snow": "snowing",
}


def join_descriptions(descriptions: Iterable[str]) -> str:
    """The text of one place-hour: distinct descriptions, stripped, sorted, joined.

    >>> join_descriptions(["mist", "light rain", "mist "])
    'light rain, mist'
    """
    return ", ".join(sorted({d.strip() for d in descriptions if d.strip()}))


def parts(text: str) -> list[str]:
    """The descriptions of a joined text.

    >>> parts("light rain, mist")
    ['light rain', 'mist']
    """
    return [p for p in text.split(", ") if p]


def rewrite(text: str, table: Mapping[str, str]) -> str:
    """``text`` with each description replaced by its entry in ``table`` (others kept).

    >>> rewrite("light rain, mist", PARAPHRASES)
    'a little rain, misty'
    """
    return ", ".join(table.get(p, p) for p in parts(text))
