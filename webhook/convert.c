/* The CRD conversion webhook (POST /convert): a ConversionReview
 * (apiextensions.k8s.io/v1) in, each of its MCPServer objects converted to
 * request.desiredAPIVersion by mcp_convert (common/src/convert.c), the
 * review's response out. Per the Kubernetes API (CustomResourceDefinition
 * versioning, "Webhook request and response"): the response carries the
 * request's uid, convertedObjects in the same order, and result.status
 * Success, or Failure with a message (an object of neither version); a body
 * that is not a ConversionReview is HTTP 400 with a Status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mcp/convert.h"

#define REVIEW_API "apiextensions.k8s.io/v1"

/* Why `review` is not a ConversionReview request we can answer, or NULL. */
static const char *check_review(const json_t *review)
{
    const json_t *req = json_object_get(review, "request");

    if (!json_is_object(review))
        return "body must be a JSON object";
    if (strcmp(json_string_value(json_object_get(review, "apiVersion")) ?: "", REVIEW_API) != 0 ||
        strcmp(json_string_value(json_object_get(review, "kind")) ?: "", "ConversionReview") != 0)
        return "body must be a ConversionReview of apiVersion " REVIEW_API;
    if (!json_is_object(req))
        return "request is required";
    if (!json_is_string(json_object_get(req, "uid")))
        return "request.uid must be a string";
    if (!json_is_string(json_object_get(req, "desiredAPIVersion")))
        return "request.desiredAPIVersion must be a string";
    if (!json_is_array(json_object_get(req, "objects")))
        return "request.objects must be an array";
    return NULL;
}

/* Convert every object in place; NULL, or the failure message in msg. */
static const char *convert_all(json_t *objects, const char *to, char *msg, size_t len, int *oom)
{
    size_t i;
    json_t *obj;

    json_array_foreach(objects, i, obj)
    {
        int rc = mcp_convert(obj, to);

        if (rc == MCP_ENOMEM) {
            *oom = 1;
            return "out of memory";
        }
        if (rc != 0) {
            snprintf(msg, len,
                     "request.objects[%zu]: cannot convert %s %.64s to %.64s: only " MCP_KIND
                     " of " MCP_API_VERSION " and " MCP_API_VERSION_BETA " are served",
                     i, json_is_object(obj) ? "apiVersion" : "a non-object",
                     json_is_object(obj)
                         ? (json_string_value(json_object_get(obj, "apiVersion")) ?: "(none)")
                         : "",
                     to);
            return msg;
        }
    }
    return NULL;
}

int wh_convert(const char *body, size_t len, mcp_buf_t *out, wh_verdict_t *verdict)
{
    json_error_t jerr;
    json_t *review, *req, *resp = NULL;
    const char *why;
    char msg[320], *text = NULL;
    int oom = 0, status = 200;

    if (len > WH_CONVERT_BODY_MAX) {
        *verdict = WH_BAD_REQUEST;
        return wh_status_body(out, 413, "RequestEntityTooLarge",
                              "request body is larger than the 3 MiB limit");
    }
    review = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!review || (why = check_review(review)) != NULL) {
        if (!review)
            snprintf(msg, sizeof(msg), "body is not JSON: %s (line %d, column %d)", jerr.text,
                     jerr.line, jerr.column);
        json_decref(review);
        *verdict = WH_BAD_REQUEST;
        return wh_status_body(out, 400, "BadRequest", review ? why : msg);
    }
    req = json_object_get(review, "request");
    why = convert_all(json_object_get(req, "objects"),
                      json_string_value(json_object_get(req, "desiredAPIVersion")), msg,
                      sizeof(msg), &oom);
    if (!oom) {
        json_t *objs = why ? json_array() : json_incref(json_object_get(req, "objects"));

        resp = json_pack("{s:s, s:s, s:{s:O, s:o, s:{s:s, s:s*}}}", "apiVersion", REVIEW_API,
                         "kind", "ConversionReview", "response", "uid", json_object_get(req, "uid"),
                         "convertedObjects", objs, "result", "status", why ? "Failure" : "Success",
                         "message", why);
    }
    text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
    mcp_buf_reset(out);
    if (!text || mcp_buf_adds(out, text) != 0) {
        mcp_buf_reset(out);
        mcp_buf_adds(out, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                          "\"message\":\"out of memory\",\"code\":500}");
        *verdict = WH_ERROR;
        status = 500;
    } else {
        *verdict = why ? WH_DENIED : WH_ALLOWED;
    }
    free(text);
    json_decref(resp);
    json_decref(review);
    return status;
}
