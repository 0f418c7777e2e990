/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* mlockctl's output, apart from the bus: tables for people (sizes as 1.5G, columns aligned,
 * control characters escaped) and the same rows as JSON for scripts (sizes in bytes, strings
 * escaped per RFC 8259), and the exit status a failed call maps to. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "macro.h"

/* Exit codes mlockctl documents in mlockctl(1). */
enum {
        MLOCKCTL_EXIT_SUCCESS = 0,
        MLOCKCTL_EXIT_FAILURE = 1,
        MLOCKCTL_EXIT_USAGE = 2,
        MLOCKCTL_EXIT_NOT_RUNNING = 3,          /* mlockd is not on the bus, or no bus at all */
        MLOCKCTL_EXIT_ACCESS_DENIED = 4,
        MLOCKCTL_EXIT_NO_SUCH_PROCESS = 5,      /* no such process, not a target, or not matched */
};

typedef enum CellType {
        CELL_STRING,
        CELL_UINT,      /* a count or a pid */
        CELL_BYTES,     /* a size: "16.0M" in tables, bytes in JSON */
        CELL_LIMIT,     /* a size where 0 means none: "-" in tables, 0 in JSON */
        _CELL_TYPE_MAX,
        _CELL_TYPE_INVALID = -EINVAL,
} CellType;

typedef struct TableColumn {
        const char *header;     /* "LOCKED" */
        const char *json_key;   /* "locked_bytes" */
        CellType type;
} TableColumn;

typedef struct Table Table;

/* columns must outlive the table. */
int table_new(const TableColumn *columns, size_t n_columns, Table **ret);
Table *table_free(Table *t);
DEFINE_CLEANUP(Table *, table_free);

/* One value per column, in order: const char * (NULL prints as "") for CELL_STRING, uint64_t for
 * the others. */
int table_add_row(Table *t, ...);
size_t table_get_rows(const Table *t);

/* Columns aligned (numbers to the right), a header line unless !legend. */
int table_print(const Table *t, FILE *f, bool legend);
/* A JSON array of objects, one per row, keys from json_key; no trailing newline. */
int table_print_json(const Table *t, FILE *f);

typedef enum JsonMode {
        JSON_OFF,
        JSON_SHORT,
        JSON_PRETTY,
        _JSON_MODE_MAX,
        _JSON_MODE_INVALID = -EINVAL,
} JsonMode;

/* --json=MODE as systemd spells it; NULL (plain --json) is short. */
JsonMode json_mode_from_string(const char *s);
/* Compact JSON (one document, or several one a line) re-indented, with a final newline. */
int json_print_pretty(FILE *f, const char *json);

/* s as a JSON string literal, quotes included. */
void json_print_string(FILE *f, const char *s);

/* The exit status for a failed call: r is the negative errno, e the bus error (may be NULL or
 * unset). */
int mlockctl_exit_status(int r, const sd_bus_error *e);
