#!/usr/bin/python3
"""The demo's sample order: DIR/sample-{0,1,2,3}.pdf as two documents and two attachments."""
import base64, json, sys

d = sys.argv[1]
b = lambda n: base64.b64encode(open("%s/sample-%d.pdf" % (d, n), "rb").read()).decode()
o = {"reference": "A1-DEMO-000001", "locale": "sl",
     "subscriber": {"given_name": "Janez", "family_name": "Novak",
                    "email": "janez.novak@example.si", "phone": "+38641123456"},
     "account": {"id": "moj-a1-778899", "given_name": "Janez", "family_name": "Novak"},
     "documents": [{"title": "Naročniška pogodba", "filename": "pogodba.pdf", "content_base64": b(0)},
                   {"title": "Aneks k pogodbi", "filename": "aneks.pdf", "content_base64": b(1)}],
     "attachments": [{"title": "Cenik", "filename": "cenik.pdf", "content_base64": b(2)},
                     {"title": "Splošni pogoji", "filename": "pogoji.pdf", "content_base64": b(3)}]}
json.dump(o, sys.stdout, ensure_ascii=False)
