"""Markdown samples and chunkings shared by the streaming-renderer and block-splitter tests."""
from __future__ import annotations

import itertools
import random


def chunked(text: str, sizes) -> list[str]:
    chunks, index = [], 0
    for size in sizes:
        if index >= len(text):
            break
        chunks.append(text[index : index + size])
        index += size
    return chunks


def random_sizes(seed: int = 7):
    rnd = random.Random(seed)
    return (rnd.randint(1, 40) for _ in itertools.count())


SAMPLE = """\
# Release notes
Intro with **bold**, *italic*, `inline code` and a [link](https://example.com).
## Setup right after the heading
Install it:
```python
def marker_alpha(x):
    \"\"\"Docstring
    spanning lines.\"\"\"

    return x  # comment


class Beta:
\tpass
```
After the code, without a blank line.

1. First item

   Continued paragraph of the first item.

   ```bash
   echo "nested fence"

   ls -la
   ```

2. Second item
   - nested bullet
   - another

     indented paragraph in the nested list

- loose a

- loose b

> A quote line
> continues

> Second quote after a blank

---

Paragraph after the rule.

| Col A | Col B | Col C |
|:------|:-----:|------:|
| 1 | two | three |
| 4 | five | six |

````markdown
A fence inside:
```js
let x = 1;

```
still inside
````

~~~
tilde fence
```
not a closer
~~~

<!-- an html comment -->

A long line that goes on and on and on and on and on and on and on and on and on and on and on to wrap.

```
a line of code that is definitely longer than eighty characters so that it must wrap inside the box
short
```

    indented code block

    more indented code

Final paragraph.
***
End.
"""
