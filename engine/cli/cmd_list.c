/*
 * cosmocopy list: the completed windows of a backup, as a table or JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The flags of list, copied out of argv (which is masked in place to hide secrets); the options
 * of the table that apply to list (--blob-connection-string, --https-ca-file ...) go to opts. */
typedef struct list_args {
    char *location, *db, *collection;
    ccopy_options_t *opts;
    int json;
} list_args_t;

static int list_backup(const list_args_t *args);

/* The option a flag of list sets, from the option table, or NULL. */
static const ccopy_option_info_t *list_option(const char *flag)
{
    size_t i;
    for (i = 0; i < ccopy_option_count(); i++) {
        const ccopy_option_info_t *o = ccopy_option_get_info(i);
        char buf[64];
        if (applies_to(o, "list") && strcmp(flag_for(buf, sizeof buf, o->name, "list"), flag) == 0)
            return o;
    }
    return NULL;
}

/* A flag of list, where a value should be: the value was forgotten. */
static int is_list_flag(const char *a)
{
    return strcmp(a, "--from") == 0 || strcmp(a, "--db") == 0 || strcmp(a, "--collection") == 0 ||
           strcmp(a, "--json") == 0 || strcmp(a, "--help") == 0 || list_option(a) != NULL;
}

/* Whether the option flag argv[i] is given again later: the last value counts, so this one is
 * not even checked. */
static int given_again_later(int argc, char **argv, int i, const ccopy_option_info_t *o)
{
    int j;
    for (j = i + 2; j < argc; j++)
        if (list_option(argv[j]) == o)
            return 1;
    return 0;
}

int cmd_list(int argc, char **argv)
{
    list_args_t args = {NULL, NULL, NULL, ccopy_options_new(), 0};
    int i, rc = -1;

    json_failure_summary_for("list", argc, argv);

    for (i = 0; i < argc && rc < 0; i++) {
        const char *a = argv[i];
        const ccopy_option_info_t *o = NULL;
        char **target = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_list_help();
            rc = EXIT_OK;
            break;
        }
        if (strcmp(a, "--json") == 0) {
            args.json = 1;
            continue;
        }
        if (strcmp(a, "--from") == 0)
            target = &args.location;
        else if (strcmp(a, "--db") == 0)
            target = &args.db;
        else if (strcmp(a, "--collection") == 0)
            target = &args.collection;
        else if (!(o = list_option(a)))
            rc = usage_error("list", "unknown argument \"%s\"", a);
        if (rc >= 0)
            break;
        if (i + 1 >= argc) {
            rc = usage_error("list", "%s needs a value", a);
            break;
        }
        if (is_list_flag(argv[i + 1])) {
            rc = usage_error("list", "%s needs a value (found the flag %s after it)", a,
                             argv[i + 1]);
            break;
        }
        if (o && given_again_later(argc, argv, i, o)) {
            i++;
            continue;
        }
        if (o) {
            ccopy_error_t e;
            if (ccopy_options_set(args.opts, o->name, argv[++i], &e) != 0) {
                print_error("list", &e);
                rc = EXIT_USAGE;
            }
            continue;
        }
        free(*target);
        *target = strdup(argv[++i]);
    }
    if (rc < 0 && (!args.location || !*args.location))
        rc = usage_error("list", "%s", "--from dir:PATH, azblob://CONTAINER[/PREFIX] or a container URL is required");
    hide_secrets_in_arguments(argc, argv); /* the values were copied: masking rewrites argv */
    if (rc < 0)
        rc = list_backup(&args);
    free(args.location);
    free(args.db);
    free(args.collection);
    ccopy_options_destroy(args.opts);
    return rc;
}

static int list_backup(const list_args_t *args)
{
    const char *db = args->db, *coll = args->collection;
    int json = args->json, rc;
    ccopy_catalog_t *catalog;
    ccopy_manifest_t *m;
    size_t count, k;
    ccopy_error_t e;

    catalog = ccopy_catalog_open_with_options(args->location, args->opts, &e);
    if (!catalog) {
        /* a folder or container that is not there: named by its flag, as restore names it */
        if (e.domain == CCOPY_DOMAIN_OS || (e.domain == CCOPY_DOMAIN_HTTP && e.cause == 404)) {
            char said[sizeof e.message];
            snprintf(said, sizeof said, "%s", e.message);
            snprintf(e.message, sizeof e.message, "--from: %.*s", (int)(sizeof e.message - 9),
                     said);
        }
        print_error("list", &e);
        return exit_code_for(e.code);
    }
    rc = ccopy_catalog_list(catalog, &m, &count, db, coll, &e);
    ccopy_catalog_destroy(catalog);
    if (rc != 0) {
        print_error("list", &e);
        return exit_code_for(rc);
    }
    if (count == 0) {
        /* the wrong folder, container or name: bad input, as restore says */
        memset(&e, 0, sizeof e);
        e.code = CCOPY_EINVAL;
        e.domain = CCOPY_DOMAIN_ENGINE;
        snprintf(e.message, sizeof e.message, "%s: %s holds no backup%s%s%s%s%s",
                 db ? "--db" : coll ? "--collection" : "--from", args->location,
                 db || coll ? " of " : "", db ? "database " : "", db ? db : "",
                 db && coll ? ", collection " : coll ? "collection " : "", coll ? coll : "");
        ccopy_mask_secrets(e.message);
        print_error("list", &e);
        ccopy_manifest_array_free(m, count);
        return EXIT_USAGE;
    }
    if (json) {
        printf("{\"windows\": [");
        for (k = 0; k < count; k++) {
            char *text = NULL;
            ccopy_manifest_to_json(&text, &m[k], NULL);
            printf("%s%s", k ? ",\n" : "\n", text ? text : "null");
            ccopy_free(text);
        }
        printf("]}\n");
    } else {
        int64_t docs = 0, bytes = 0, stored = 0;
        printf("%-12s %-16s %-20s %-20s %10s %10s %10s %-5s %s\n", "DATABASE", "COLLECTION", "START",
               "END", "DOCUMENTS", "BYTES", "STORED", "COMP", "DATA");
        for (k = 0; k < count; k++) {
            char a[CCOPY_TIME_TEXT_SIZE] = "-", b[CCOPY_TIME_TEXT_SIZE] = "-", sb[32], ss[32];
            if (m[k].kind == CCOPY_MANIFEST_WINDOW) {
                ccopy_time_format(a, m[k].window.start, NULL);
                ccopy_time_format(b, m[k].window.end, NULL);
            } else {
                snprintf(a, sizeof a, "(non-ObjectId _id)");
            }
            cli_format_bytes(sb, sizeof sb, (double)m[k].bytes);
            cli_format_bytes(ss, sizeof ss, (double)m[k].stored_bytes);
            printf("%-12s %-16s %-20s %-20s %10lld %10s %10s %-5s %s\n", m[k].database,
                   m[k].collection, a, b, (long long)m[k].documents, sb, ss, m[k].compression,
                   m[k].data);
            docs += m[k].documents;
            bytes += m[k].bytes;
            stored += m[k].stored_bytes;
        }
        {
            char sb[32], ss[32];
            cli_format_bytes(sb, sizeof sb, (double)bytes);
            cli_format_bytes(ss, sizeof ss, (double)stored);
            printf("%zu window%s, %lld document%s, %s (%s stored)\n", count, plural((int64_t)count),
                   (long long)docs, plural(docs), sb, ss);
        }
    }
    ccopy_manifest_array_free(m, count);
    return EXIT_OK;
}

