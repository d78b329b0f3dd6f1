/* The update scan's allow-list: what each object of a signature update is (by its shape),
 * how many of each there may be, the keys each may carry and where it may point to another
 * object of the same update. What our writer (firmware/pades/pdf_form.c, pdf.c, with
 * no_page_annot) produces passes; a key it copies from the original that could change what
 * is displayed or run something (actions, appearance streams, optional content, XFA) is
 * refused. So is any page and any array object: the scan cannot compare a redefined page
 * (its direct /Resources, boxes, /Rotate) or list (/Annots, /Contents, /Kids) with the
 * original, so it allows none. */
#include <stdio.h>
#include <string.h>

#include "scan_int.h"

static const char *const sig_keys[] = {"Type",     "Filter",      "SubFilter",  "ByteRange",
                                       "Contents", "M",           "Name",       "Reason",
                                       "Location", "ContactInfo", "Prop_Build", NULL};
/* No /AP: an appearance stream (even one of the original) would be drawn in the widget's
 * /Rect, and this scan cannot see what it draws. No /A, /AA: actions. No /Kids, /Parent. */
static const char *const field_keys[] = {"Type", "Subtype", "FT", "T", "V", "F", "Rect", "P", NULL};
/* No /XFA, /CO (calculations run scripts), /NeedAppearances true (viewers redraw fields).
 * /DR only as a reference: a direct one could redefine the fonts of field appearances. */
static const char *const af_keys[] = {"Fields", "SigFlags",        "DR", "DA",
                                      "Q",      "NeedAppearances", NULL};
/* No /AA, /OCProperties (which layers show), /Collection, /NeedsRendering, /URI, ... */
static const char *const catalog_keys[] = {
    "Type",       "Pages",          "AcroForm",   "Names",      "Outlines",
    "Metadata",   "StructTreeRoot", "MarkInfo",   "Lang",       "ViewerPreferences",
    "PageLayout", "PageMode",       "OpenAction", "PageLabels", "Dests",
    "Version",    "Extensions",     "DSS",        "Perms",      NULL};
/* The type each catalog value may have. A direct dictionary only where it cannot change
 * what a page shows: /AcroForm (checked as the AcroForm), /Names (values references only),
 * /MarkInfo (flags), /ViewerPreferences (no page box other than /CropBox), and the
 * navigation, extension and validation dictionaries. /StructTreeRoot (what screen readers
 * and reflow show) and /Metadata only as references, so the update cannot write their
 * content. */
#define T_REF   (1u << SN_REF)
#define T_DICT  (1u << SN_DICT)
#define T_NAME  (1u << SN_NAME)
#define T_STR   ((1u << SN_STR) | (1u << SN_HEX))
#define T_ARRAY (1u << SN_ARRAY)
static const struct {
	const char *key;
	unsigned types;
} catalog_types[] = {
    {"Type", T_NAME},
    {"Pages", T_REF},
    {"AcroForm", T_REF | T_DICT},
    {"Names", T_REF | T_DICT},
    {"Outlines", T_REF},
    {"Metadata", T_REF},
    {"StructTreeRoot", T_REF},
    {"MarkInfo", T_REF | T_DICT},
    {"Lang", T_STR},
    {"ViewerPreferences", T_REF | T_DICT},
    {"PageLayout", T_NAME},
    {"PageMode", T_NAME},
    {"OpenAction", T_ARRAY},
    {"PageLabels", T_REF | T_DICT},
    {"Dests", T_REF | T_DICT},
    {"Version", T_NAME},
    {"Extensions", T_REF | T_DICT},
    {"DSS", T_REF | T_DICT},
    {"Perms", T_REF | T_DICT},
};
/* Viewer preferences that choose the page box shown or printed (PDF 1.4-1.7). */
static const char *const vp_boxes[] = {"ViewArea", "ViewClip", "PrintArea", "PrintClip", NULL};
static const char *const dest_kinds[] = {"XYZ",  "Fit",   "FitH",  "FitV", "FitR",
                                         "FitB", "FitBH", "FitBV", NULL};

static const struct sobj *role_obj(const struct scan_ctx *c, enum scan_role role)
{
	return c->by_role[role] >= 0 ? &c->objs[c->by_role[role]] : NULL;
}

static int sn_type(const struct scan_ctx *c, uint32_t i)
{
	return i ? c->nodes[i].t : 0;
}

static int is_string(const struct scan_ctx *c, uint32_t i)
{
	return sn_type(c, i) == SN_STR || sn_type(c, i) == SN_HEX;
}

static int is_number(const struct scan_ctx *c, uint32_t i)
{
	return sn_type(c, i) == SN_INT || sn_type(c, i) == SN_REAL;
}

static c2s_err set_role(struct scan_ctx *c, size_t i, enum scan_role role)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	if (c->by_role[role] >= 0)
		SCAN_REFUSE("object %u: a second %s (object %u is one)", c->objs[i].num,
		            scan_role_name(role), c->objs[c->by_role[role]].num);
	c->by_role[role] = (int)i;
	c->objs[i].role = role;
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err classify_dict(struct scan_ctx *c, size_t i)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t d = c->objs[i].root, t = scan_get(c, d, "Type");
	enum scan_role role = SCAN_NONE;
	if (t && sn_type(c, t) != SN_NAME)
		SCAN_REFUSE("object %u: /Type is not a name", c->objs[i].num);
	if (scan_is_name(c, t, "Page"))
		SCAN_REFUSE("object %u: a signature update may not rewrite a page: it could change "
		            "what the page shows",
		            c->objs[i].num);
	if (scan_is_name(c, t, "Pages"))
		SCAN_REFUSE("object %u: a signature update may not rewrite the page tree: it could "
		            "change which pages are shown",
		            c->objs[i].num);
	if (scan_is_name(c, t, "Sig"))
		role = SCAN_SIG;
	else if (scan_is_name(c, t, "Catalog"))
		role = SCAN_CATALOG;
	else if (scan_is_name(c, t, "Annot") || (!t && scan_get(c, d, "FT")))
		role = SCAN_FIELD;
	else if (!t && scan_get(c, d, "Fields"))
		role = SCAN_ACROFORM;
	if (role == SCAN_NONE && t) {
		char name[64];
		scan_name_text(c, t, name, sizeof(name));
		SCAN_REFUSE("object %u: /Type /%s is not allowed in a signature update",
		            c->objs[i].num, name);
	}
	if (role == SCAN_NONE)
		SCAN_REFUSE("object %u: a dictionary that is no signature, field, AcroForm or "
		            "catalog",
		            c->objs[i].num);
	GUARD(set_role(c, i, role));
	ret = C2S_OK;
out:
	return ret;
}

/* Roles of dictionaries and the xref stream. No array object: numbered like a page's
 * indirect /Annots it would replace the page's annotations (dropping, say, a free-text
 * clause), like a /Contents or /Kids array the page's content or the pages themselves. The
 * writer makes /Fields direct for this reason. */
static c2s_err classify(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	for (size_t i = 0; i < c->n_objs; i++) {
		const struct sobj *o = &c->objs[i];
		if (o->stream)
			GUARD(set_role(c, i, SCAN_XREF));
		else if (c->nodes[o->root].t == SN_DICT)
			GUARD(classify_dict(c, i));
		else if (c->nodes[o->root].t == SN_ARRAY)
			SCAN_REFUSE(
			    "object %u: a signature update may not rewrite an array: as a "
			    "page's /Annots, /Contents or /Kids it could drop annotations or "
			    "change what the pages show",
			    o->num);
		else
			SCAN_REFUSE("object %u: neither a dictionary nor an array", o->num);
	}
	if (!role_obj(c, SCAN_SIG))
		SCAN_REFUSE("no signature dictionary (/Type /Sig) in the update");
	if (!role_obj(c, SCAN_FIELD))
		SCAN_REFUSE("no signature field in the update");
	ret = C2S_OK;
out:
	return ret;
}

/* An array of references only, holding the signature field exactly once. */
static c2s_err field_list(struct scan_ctx *c, uint32_t a, const char *what, uint32_t num)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	int found = 0;
	uint32_t i = 0;
	for (uint32_t k = c->nodes[a].kid; k; k = c->nodes[k].next, i++) {
		if (c->nodes[k].t != SN_REF)
			SCAN_REFUSE("object %u: %s item %u is not a reference", num, what, i);
		if (scan_ref_to(c, k, SCAN_FIELD))
			found++;
	}
	if (found != 1)
		SCAN_REFUSE("object %u: %s %s the signature field %u", num, what,
		            found ? "lists more than once" : "does not contain",
		            role_obj(c, SCAN_FIELD)->num);
	ret = C2S_OK;
out:
	return ret;
}

/* The AcroForm: the catalog's direct one or an indirect object; its /Fields array. */
static c2s_err find_acroform(struct scan_ctx *c, uint32_t *af, uint32_t *af_num)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const struct sobj *cat = role_obj(c, SCAN_CATALOG), *afo = role_obj(c, SCAN_ACROFORM);
	*af = afo ? afo->root : 0;
	*af_num = afo ? afo->num : 0;
	if (cat) {
		uint32_t v = scan_get(c, cat->root, "AcroForm");
		if (sn_type(c, v) == SN_DICT && !afo) {
			*af = v;
			*af_num = cat->num;
		} else if (sn_type(c, v) == SN_DICT) {
			SCAN_REFUSE("catalog %u has a direct /AcroForm and object %u is another",
			            cat->num, afo->num);
		} else if (!scan_ref_to(c, v, SCAN_ACROFORM)) {
			SCAN_REFUSE("catalog %u: /AcroForm is not the AcroForm of this update",
			            cat->num);
		}
	}
	if (!*af)
		SCAN_REFUSE("no AcroForm in the update (the field must be added to /Fields)");
	uint32_t f = scan_get(c, *af, "Fields");
	if (sn_type(c, f) != SN_ARRAY)
		SCAN_REFUSE("AcroForm %u: /Fields is not a direct array (a signature update holds "
		            "no array object)",
		            *af_num);
	GUARD(field_list(c, f, "/Fields", *af_num));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err check_acroform(struct scan_ctx *c, uint32_t af, uint32_t num)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	char what[48];
	snprintf(what, sizeof(what), "AcroForm %u", num);
	if (scan_get(c, af, "XFA"))
		SCAN_REFUSE("%s: /XFA (a form that replaces the page content) is not allowed",
		            what);
	GUARD(scan_keys_allowed(c, af, af_keys, what));
	uint32_t na = scan_get(c, af, "NeedAppearances"), sf = scan_get(c, af, "SigFlags");
	if (na && (sn_type(c, na) != SN_BOOL || c->nodes[na].v))
		SCAN_REFUSE("%s: /NeedAppearances true would let viewers redraw the fields", what);
	if (sn_type(c, sf) != SN_INT || !(c->nodes[sf].v & 1) || (c->nodes[sf].v & ~3LL))
		SCAN_REFUSE("%s: /SigFlags is not 1..3 with SignaturesExist", what);
	uint32_t da = scan_get(c, af, "DA"), q = scan_get(c, af, "Q"), dr = scan_get(c, af, "DR");
	if ((da && !is_string(c, da)) || (q && sn_type(c, q) != SN_INT))
		SCAN_REFUSE("%s: /DA or /Q of the wrong type", what);
	if (dr && sn_type(c, dr) != SN_REF)
		SCAN_REFUSE("%s: /DR is not a reference: direct default resources could redefine "
		            "the fonts of the fields' appearances",
		            what);
	ret = C2S_OK;
out:
	return ret;
}

/* The /Contents placeholder: '<', an even number of '0' digits, '>'. */
static c2s_err check_hole(struct scan_ctx *c, uint32_t h, uint32_t num)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const struct sn *s = &c->nodes[h];
	if (s->t != SN_HEX || s->len < 4 || s->len % 2)
		SCAN_REFUSE("signature %u: /Contents is not a hex string of even length", num);
	for (size_t i = s->off + 1; i + 1 < s->off + s->len; i++)
		if (c->u[i] != '0')
			SCAN_REFUSE("signature %u: /Contents is not a zero-filled placeholder "
			            "(byte at offset %zu)",
			            num, i);
	ret = C2S_OK;
out:
	return ret;
}

/* /ByteRange [0 a b c]: a at the '<' of /Contents, b after its '>', b + c the file's end. */
static c2s_err check_ranges(struct scan_ctx *c, uint32_t br, uint32_t h, struct scan_result *r,
                            uint32_t num)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint64_t v[4];
	uint32_t k = sn_type(c, br) == SN_ARRAY && c->nodes[br].n == 4 ? c->nodes[br].kid : 0;
	for (int i = 0; i < 4; i++, k = k ? c->nodes[k].next : 0) {
		if (sn_type(c, k) != SN_INT || c->nodes[k].v < 0)
			SCAN_REFUSE("signature %u: /ByteRange is not four non-negative integers",
			            num);
		v[i] = (uint64_t)c->nodes[k].v;
	}
	uint64_t a = c->orig_len + c->nodes[h].off, b = a + c->nodes[h].len;
	if (v[0] != 0 || v[1] != a || v[2] != b)
		SCAN_REFUSE(
		    "signature %u: /ByteRange [%llu %llu %llu ...] does not exclude exactly "
		    "the /Contents hole [%llu, %llu)",
		    num, (unsigned long long)v[0], (unsigned long long)v[1],
		    (unsigned long long)v[2], (unsigned long long)a, (unsigned long long)b);
	if (v[3] != c->orig_len + c->n - b)
		SCAN_REFUSE(
		    "signature %u: /ByteRange ends at %llu, not at the end of the file (%llu)", num,
		    (unsigned long long)(v[2] + v[3]), (unsigned long long)(c->orig_len + c->n));
	memcpy(r->range, v, sizeof(v));
	r->hole_off = c->nodes[h].off;
	r->hole_len = c->nodes[h].len;
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err check_sig(struct scan_ctx *c, struct scan_result *r)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const struct sobj *o = role_obj(c, SCAN_SIG);
	uint32_t d = o->root;
	char what[48];
	snprintf(what, sizeof(what), "signature %u", o->num);
	GUARD(scan_keys_allowed(c, d, sig_keys, what));
	if (!scan_is_name(c, scan_get(c, d, "Filter"), "Adobe.PPKLite") ||
	    !scan_is_name(c, scan_get(c, d, "SubFilter"), "ETSI.CAdES.detached"))
		SCAN_REFUSE("%s: /Filter is not /Adobe.PPKLite or /SubFilter not "
		            "/ETSI.CAdES.detached",
		            what);
	static const char *const texts[] = {"M", "Name", "Reason", "Location", "ContactInfo"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		uint32_t v = scan_get(c, d, texts[i]);
		if (v && !is_string(c, v))
			SCAN_REFUSE("%s: /%s is not a string", what, texts[i]);
	}
	uint32_t pb = scan_get(c, d, "Prop_Build");
	if (pb && sn_type(c, pb) != SN_DICT)
		SCAN_REFUSE("%s: /Prop_Build is not a dictionary", what);
	uint32_t h = scan_get(c, d, "Contents");
	if (!h)
		SCAN_REFUSE("%s: no /Contents", what);
	GUARD(check_hole(c, h, o->num));
	GUARD(check_ranges(c, scan_get(c, d, "ByteRange"), h, r, o->num));
	r->sig_num = o->num;
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err check_field(struct scan_ctx *c, struct scan_result *r)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const struct sobj *o = role_obj(c, SCAN_FIELD);
	uint32_t d = o->root;
	char what[48];
	snprintf(what, sizeof(what), "field %u", o->num);
	if (scan_get(c, d, "AP"))
		SCAN_REFUSE("%s: /AP (an appearance stream) is not allowed", what);
	if (scan_get(c, d, "A") || scan_get(c, d, "AA"))
		SCAN_REFUSE("%s: /A or /AA (an action) is not allowed", what);
	GUARD(scan_keys_allowed(c, d, field_keys, what));
	if (!scan_is_name(c, scan_get(c, d, "FT"), "Sig") ||
	    !scan_is_name(c, scan_get(c, d, "Subtype"), "Widget"))
		SCAN_REFUSE("%s: not a signature field merged with its widget (/FT /Sig, /Subtype "
		            "/Widget)",
		            what);
	if (!scan_ref_to(c, scan_get(c, d, "V"), SCAN_SIG))
		SCAN_REFUSE("%s: /V does not reference the signature dictionary %u", what,
		            role_obj(c, SCAN_SIG)->num);
	uint32_t t = scan_get(c, d, "T"), f = scan_get(c, d, "F"), rect = scan_get(c, d, "Rect");
	if (!is_string(c, t) || (f && sn_type(c, f) != SN_INT))
		SCAN_REFUSE("%s: /T is not a string or /F not an integer", what);
	uint32_t k = sn_type(c, rect) == SN_ARRAY && c->nodes[rect].n == 4 ? c->nodes[rect].kid : 0;
	for (int i = 0; i < 4; i++, k = k ? c->nodes[k].next : 0)
		if (!is_number(c, k))
			SCAN_REFUSE("%s: /Rect is not four numbers", what);
	uint32_t p = scan_get(c, d, "P");
	if (p && sn_type(c, p) != SN_REF)
		SCAN_REFUSE("%s: /P is not a reference", what);
	r->field_num = o->num;
	ret = C2S_OK;
out:
	return ret;
}

/* An explicit destination [page /Fit ...]: the only /OpenAction that runs nothing. */
static int is_dest(const struct scan_ctx *c, uint32_t a)
{
	if (sn_type(c, a) != SN_ARRAY || c->nodes[a].n < 2 || c->nodes[a].n > 6)
		return 0;
	uint32_t pg = c->nodes[a].kid, kind = c->nodes[pg].next;
	if (sn_type(c, pg) != SN_REF && sn_type(c, pg) != SN_INT)
		return 0;
	const char *const *k = dest_kinds;
	while (*k && !scan_is_name(c, kind, *k))
		k++;
	if (!*k)
		return 0;
	for (uint32_t i = c->nodes[kind].next; i; i = c->nodes[i].next)
		if (!is_number(c, i) && sn_type(c, i) != SN_NULL)
			return 0;
	return 1;
}

/* The catalog's direct dictionaries that the type table allows, by what they may hold. */
static c2s_err check_catalog_dicts(struct scan_ctx *c, uint32_t d, const char *what)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t names = scan_get(c, d, "Names"), mi = scan_get(c, d, "MarkInfo"),
	         vp = scan_get(c, d, "ViewerPreferences");
	/* name tree roots elsewhere in the original: a direct tree could add named pages,
	 * templates or appearance streams the scan cannot see */
	if (sn_type(c, names) == SN_DICT)
		for (uint32_t k = c->nodes[names].kid; k; k = c->nodes[c->nodes[k].next].next)
			if (sn_type(c, c->nodes[k].next) != SN_REF)
				SCAN_REFUSE(
				    "%s: a direct /Names holds a value that is not a reference",
				    what);
	if (sn_type(c, mi) == SN_DICT)
		for (uint32_t k = c->nodes[mi].kid; k; k = c->nodes[c->nodes[k].next].next) {
			int t = sn_type(c, c->nodes[k].next);
			if (t != SN_BOOL && t != SN_NAME)
				SCAN_REFUSE("%s: /MarkInfo holds a value that is not a flag", what);
		}
	if (sn_type(c, vp) == SN_DICT)
		for (uint32_t k = c->nodes[vp].kid; k; k = c->nodes[c->nodes[k].next].next) {
			uint32_t v = c->nodes[k].next;
			int t = sn_type(c, v);
			if (t == SN_DICT || t == SN_REF || t == SN_STR || t == SN_HEX)
				SCAN_REFUSE(
				    "%s: /ViewerPreferences holds a dictionary, reference or "
				    "string",
				    what);
			for (const char *const *b = vp_boxes; *b; b++)
				if (scan_is_name(c, k, *b) && !scan_is_name(c, v, "CropBox"))
					SCAN_REFUSE(
					    "%s: /ViewerPreferences /%s other than /CropBox "
					    "would change the part of the page shown",
					    what, *b);
		}
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err check_catalog(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const struct sobj *o = role_obj(c, SCAN_CATALOG);
	uint32_t d = o->root;
	char what[48];
	snprintf(what, sizeof(what), "catalog %u", o->num);
	if (scan_get(c, d, "AA"))
		SCAN_REFUSE("%s: /AA (document actions) is not allowed", what);
	GUARD(scan_keys_allowed(c, d, catalog_keys, what));
	uint32_t oa = scan_get(c, d, "OpenAction");
	if (oa && !is_dest(c, oa))
		SCAN_REFUSE("%s: /OpenAction is an action; only an explicit destination is allowed",
		            what);
	uint32_t names = scan_get(c, d, "Names");
	if (scan_get(c, names, "JavaScript"))
		SCAN_REFUSE("%s: /Names has /JavaScript", what);
	for (size_t i = 0; i < sizeof(catalog_types) / sizeof(catalog_types[0]); i++) {
		uint32_t v = scan_get(c, d, catalog_types[i].key);
		if (v && !(catalog_types[i].types & (1u << sn_type(c, v))))
			SCAN_REFUSE("%s: /%s is %s", what, catalog_types[i].key,
			            catalog_types[i].types == T_REF
			                ? "not a reference"
			                : "of a type that is not allowed (a direct value "
			                  "the scan cannot compare with the original)");
	}
	GUARD(check_catalog_dicts(c, d, what));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err scan_rules(struct scan_ctx *c, struct scan_result *r)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t af, af_num;
	GUARD(classify(c));
	GUARD(check_sig(c, r));
	GUARD(check_field(c, r));
	GUARD(find_acroform(c, &af, &af_num));
	GUARD(check_acroform(c, af, af_num));
	if (role_obj(c, SCAN_CATALOG))
		GUARD(check_catalog(c));
	ret = C2S_OK;
out:
	return ret;
}
