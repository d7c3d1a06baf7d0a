"""Where headlines come from: polled RSS/Atom feeds, replayed files, HTTP pushes."""
