/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tables and JSON for mlockctl; see mlockctl-format.h. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "manager-bus.h"
#include "mlockctl-format.h"
#include "parse-util.h"

typedef struct Cell {
        char *text;             /* CELL_STRING: the string */
        uint64_t value;         /* the others */
} Cell;

struct Table {
        const TableColumn *columns;
        size_t n_columns;
        Cell *cells;            /* n_rows * n_columns */
        size_t n_rows;
};

int table_new(const TableColumn *columns, size_t n_columns, Table **ret) {
        Table *t;

        if (!columns || n_columns == 0 || !ret)
                return -EINVAL;
        for (size_t i = 0; i < n_columns; i++)
                if (!columns[i].header || !columns[i].json_key ||
                    columns[i].type < 0 || columns[i].type >= _CELL_TYPE_MAX)
                        return -EINVAL;

        t = calloc(1, sizeof(Table));
        if (!t)
                return -ENOMEM;
        t->columns = columns;
        t->n_columns = n_columns;
        *ret = t;
        return 0;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i].text);
        free(t->cells);
        free(t);
        return NULL;
}

int table_add_row(Table *t, ...) {
        Cell *cells, *row;
        va_list ap;
        int r = 0;

        if (!t)
                return -EINVAL;

        cells = reallocarray(t->cells, (t->n_rows + 1) * t->n_columns, sizeof(Cell));
        if (!cells)
                return -ENOMEM;
        t->cells = cells;
        row = cells + t->n_rows * t->n_columns;
        memset(row, 0, t->n_columns * sizeof(Cell));

        va_start(ap, t);
        for (size_t i = 0; i < t->n_columns; i++) {
                if (t->columns[i].type == CELL_STRING) {
                        const char *s = va_arg(ap, const char *);

                        row[i].text = strdup(s ?: "");
                        if (!row[i].text)
                                r = -ENOMEM;
                } else
                        row[i].value = va_arg(ap, uint64_t);
        }
        va_end(ap);

        if (r < 0) {
                for (size_t i = 0; i < t->n_columns; i++)
                        free(row[i].text);
                return r;
        }
        t->n_rows++;
        return 0;
}

size_t table_get_rows(const Table *t) {
        return t ? t->n_rows : 0;
}

/* What a cell shows in a table: sizes human, control characters as \xNN (a comm or a cgroup
 * name can hold anything, and must not move the cursor on someone's terminal). */
static char *cell_display(const TableColumn *c, const Cell *cell) {
        char buf[FORMAT_BYTES_MAX];
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        switch (c->type) {
        case CELL_UINT:
                return asprintf(&s, "%" PRIu64, cell->value) < 0 ? NULL : s;
        case CELL_LIMIT:
                if (cell->value == 0)
                        return strdup("-");
                return strdup(format_bytes(buf, sizeof buf, cell->value));
        case CELL_BYTES:
                return strdup(format_bytes(buf, sizeof buf, cell->value));
        case CELL_STRING:
                f = open_memstream(&s, &size);
                if (!f)
                        return NULL;
                /* The daemon already escapes what targets put in strings ("\xff"); a backslash
                 * is left as it is, as systemctl shows "\x2d" in unit names. Only what would
                 * break a table line is escaped here. */
                for (const unsigned char *p = (const unsigned char *) cell->text; *p; p++)
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\x%02x", *p);
                        else
                                fputc(*p, f);
                if (fclose(f) != 0) {
                        free(s);
                        return NULL;
                }
                return s;
        default:
                return NULL;
        }
}

static bool column_right_aligned(const TableColumn *c) {
        return c->type != CELL_STRING;
}

int table_print(const Table *t, FILE *f, bool legend) {
        _cleanup_free_ size_t *width = NULL;
        char **text;
        size_t n;
        int r = 0;

        if (!t || !f)
                return -EINVAL;

        n = t->n_rows * t->n_columns;
        width = calloc(t->n_columns, sizeof(size_t));
        text = calloc(n ?: 1, sizeof(char *));
        if (!width || !text) {
                free(text);
                return -ENOMEM;
        }

        for (size_t i = 0; i < t->n_columns; i++)
                width[i] = legend ? strlen(t->columns[i].header) : 0;
        for (size_t i = 0; i < n; i++) {
                size_t col = i % t->n_columns, l;

                text[i] = cell_display(&t->columns[col], &t->cells[i]);
                if (!text[i]) {
                        r = -ENOMEM;
                        goto finish;
                }
                l = strlen(text[i]);
                width[col] = MAX(width[col], l);
        }

        for (size_t row = legend ? 0 : 1; row <= t->n_rows; row++) {
                size_t pending = 0;     /* blanks owed before the next text: none at line ends */

                for (size_t col = 0; col < t->n_columns; col++) {
                        const char *s = row == 0 ? t->columns[col].header : text[(row - 1) * t->n_columns + col];
                        size_t l = strlen(s);

                        if (column_right_aligned(&t->columns[col]))
                                pending += width[col] - l;
                        if (l > 0) {
                                fprintf(f, "%*s%s", (int) pending, "", s);
                                pending = 0;
                        }
                        if (!column_right_aligned(&t->columns[col]))
                                pending += width[col] - l;
                        pending++;      /* the column separator */
                }
                fputc('\n', f);
        }

        if (ferror(f))
                r = -EIO;
finish:
        for (size_t i = 0; i < n; i++)
                free(text[i]);
        free(text);
        return r;
}

void json_print_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) (s ?: ""); *p; p++)
                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                default:
                        /* D-Bus strings are valid UTF-8 already: only control characters need
                         * escaping. */
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        fputc('"', f);
}

int table_print_json(const Table *t, FILE *f) {
        if (!t || !f)
                return -EINVAL;

        fputc('[', f);
        for (size_t row = 0; row < t->n_rows; row++) {
                fputs(row > 0 ? ",{" : "{", f);
                for (size_t col = 0; col < t->n_columns; col++) {
                        const Cell *cell = &t->cells[row * t->n_columns + col];

                        if (col > 0)
                                fputc(',', f);
                        json_print_string(f, t->columns[col].json_key);
                        fputc(':', f);
                        if (t->columns[col].type == CELL_STRING)
                                json_print_string(f, cell->text);
                        else
                                fprintf(f, "%" PRIu64, cell->value);
                }
                fputc('}', f);
        }
        fputc(']', f);

        return ferror(f) ? -EIO : 0;
}

int mlockctl_exit_status(int r, const sd_bus_error *e) {
        if (r >= 0)
                return MLOCKCTL_EXIT_SUCCESS;

        if (e && sd_bus_error_is_set(e)) {
                /* Activation failures count as unreachable: dbus-daemon's own (Spawn.*), and
                 * systemd's when the unit is masked or missing (org.freedesktop.systemd1.UnitMasked,
                 * NoSuchUnit, ...), which dbus-daemon passes on. */
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                           SD_BUS_ERROR_NO_SERVER, SD_BUS_ERROR_DISCONNECTED) ||
                    strncmp(e->name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0 ||
                    strncmp(e->name, "org.freedesktop.systemd1.", 25) == 0)
                        return MLOCKCTL_EXIT_NOT_RUNNING;
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_ACCESS_DENIED, SD_BUS_ERROR_AUTH_FAILED))
                        return MLOCKCTL_EXIT_ACCESS_DENIED;
                if (sd_bus_error_has_names(e, MLOCKD_ERROR_NO_SUCH_PROCESS, MLOCKD_ERROR_NOT_MATCHED))
                        return MLOCKCTL_EXIT_NO_SUCH_PROCESS;
                return MLOCKCTL_EXIT_FAILURE;   /* Refused, InvalidConfig, InvalidArgs, ... */
        }

        /* No bus error: the connection itself failed. No socket, nobody listening there. */
        switch (-r) {
        case ENOENT:
        case ECONNREFUSED:
        case ENOTCONN:
        case ECONNRESET:
        case ENXIO:
                return MLOCKCTL_EXIT_NOT_RUNNING;
        case EACCES:
        case EPERM:
                return MLOCKCTL_EXIT_ACCESS_DENIED;
        default:
                return MLOCKCTL_EXIT_FAILURE;
        }
}

JsonMode json_mode_from_string(const char *s) {
        if (!s || streq(s, "short"))
                return JSON_SHORT;
        if (streq(s, "pretty"))
                return JSON_PRETTY;
        if (streq(s, "off"))
                return JSON_OFF;
        return _JSON_MODE_INVALID;
}

static void indent(FILE *f, unsigned level) {
        fputc('\n', f);
        for (unsigned i = 0; i < level; i++)
                fputs("  ", f);
}

/* Re-indent compact JSON as systemd's --json=pretty does (two blanks a level); strings are copied
 * as they are. */
int json_print_pretty(FILE *f, const char *json) {
        unsigned level = 0;
        bool in_string = false;

        if (!f || !json)
                return -EINVAL;
        for (const char *p = json; *p; p++) {
                char c = *p;

                if (in_string) {
                        fputc(c, f);
                        if (c == '\\' && p[1])
                                fputc(*++p, f);
                        else if (c == '"')
                                in_string = false;
                        continue;
                }
                switch (c) {
                case '"':
                        in_string = true;
                        fputc(c, f);
                        break;
                case '{':
                case '[':
                        fputc(c, f);
                        if (p[1] == (c == '{' ? '}' : ']'))
                                fputc(*++p, f); /* empty: stays "{}" */
                        else
                                indent(f, ++level);
                        break;
                case '}':
                case ']':
                        indent(f, level > 0 ? --level : 0);
                        fputc(c, f);
                        break;
                case ',':
                        fputc(c, f);
                        indent(f, level);
                        break;
                case ':':
                        fputs(": ", f);
                        break;
                case '\n':
                        if (p[1])
                                fputc('\n', f); /* between documents */
                        break;
                default:
                        fputc(c, f);
                }
        }
        fputc('\n', f);
        return ferror(f) ? -EIO : 0;
}
