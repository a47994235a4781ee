#!/usr/bin/env bash
# A real program no one here wrote: sqlite3 imports a generated CSV and answers queries.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
seq 1 200000 | awk '{ printf "%d,name%d,%d.%02d,%s\n", $1, $1 % 5000, $1 % 1000, $1 % 100, ($1 % 3 ? "a" : "b") }' \
  >"$dir/rows.csv"
sqlite3 "$dir/db.sqlite" <<SQL
create table t(id integer primary key, name text, price real, kind text);
.mode csv
.import $dir/rows.csv t
create index t_name on t(name);
.mode list
select count(*), sum(price), count(distinct name) from t;
select kind, count(*), round(avg(price), 3) from t group by kind order by kind;
select name, count(*) from t group by name order by count(*) desc, name limit 3;
SQL
