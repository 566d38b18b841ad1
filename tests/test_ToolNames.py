"""Tool names for the model: valid for the OpenAI format, unique, built from the server and tool names."""
import re

from llmc.tools.ToolNames import MAX_NAME, display_name, function_name

VALID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def test_a_plain_name_is_server_underscore_tool():
    assert function_name("time", "get_current_time", set()) == "time_get_current_time"
    assert display_name("time", "get_current_time") == "time.get_current_time"


def test_characters_outside_the_format_become_underscores():
    for server, tool in [("docs", "get.weather now"), ("ünï", "tool/with:odd*chars"), ("a b", "\x00\n")]:
        name = function_name(server, tool, set())
        assert VALID.fullmatch(name), name
    assert function_name("docs", "get.weather now", set()) == "docs_get_weather_now"


def test_a_long_name_is_cut_to_64():
    name = function_name("s" * 40, "t" * 40, set())
    assert len(name) == MAX_NAME and VALID.fullmatch(name)


def test_clashes_get_numbers_and_every_tool_keeps_one():
    taken: set = set()
    names = [function_name(server, tool, taken) for server, tool in
             [("a.b", "c"), ("a_b", "c"), ("a", "b_c"), ("A_B", "C")]]
    assert names == ["a_b_c", "a_b_c_2", "a_b_c_3", "A_B_C_4"]  # case does not tell them apart
    long_taken: set = set()
    first, second = (function_name("s" * 40, "t" * 40, long_taken) for _ in range(2))
    assert first != second and len(second) == MAX_NAME and second.endswith("_2")
