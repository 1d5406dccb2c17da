#!/usr/bin/env python3
# The regional offices' desktop client, unchanged: sync_with_server and
# get_server_status below are copied exactly as written in the offices'
# plan (/work/shared/seeds/003_0f377cdd48b4ea7b.txt, "Update db.py");
# only DB_PATH comes from the environment here, as db.py has its own.
#
#   DB_PATH=office.db oldclient.py sync URL KEY REGION   -> "ok" or "fail: ..."
#   oldclient.py status URL KEY                          -> the JSON or None
import json
import os
import sys

DB_PATH = os.environ.get("DB_PATH", "puantaj.db")

# ---- copied from the plan: db.py ------------------------------------------

import requests
import hashlib
from datetime import datetime

def sync_with_server(sync_url, api_key, region):
    """Upload local DB to server and download merged version"""
    
    try:
        # Step 1: Upload local DB
        with open(DB_PATH, "rb") as f:
            files = {"db": (f"puantaj_{region}.db", f, "application/octet-stream")}
            headers = {
                "X-API-KEY": api_key,
                "X-Region": region,
                "X-Reason": "auto_sync"
            }
            url = sync_url.rstrip("/") + "/sync"
            
            resp = requests.post(url, headers=headers, files=files, timeout=10)
            
            if resp.status_code != 200:
                return False, f"Upload failed: {resp.status_code}"
        
        # Step 2: Download merged DB
        resp = requests.get(
            sync_url.rstrip("/") + "/sync/download",
            headers={"X-API-KEY": api_key},
            timeout=10
        )
        
        if resp.status_code != 200:
            return False, f"Download failed: {resp.status_code}"
        
        # Step 3: Backup and replace local DB
        import shutil
        backup_path = DB_PATH + ".sync_backup"
        shutil.copy2(DB_PATH, backup_path)
        
        with open(DB_PATH, "wb") as f:
            f.write(resp.content)
        
        return True, "Sync successful"
    
    except Exception as e:
        return False, str(e)


def get_server_status(sync_url, api_key):
    """Check server sync status"""
    try:
        resp = requests.get(
            sync_url.rstrip("/") + "/status",
            headers={"X-API-KEY": api_key},
            timeout=5
        )
        return resp.json()
    except Exception:
        return None

# ---- end of the copy -------------------------------------------------------

if __name__ == "__main__":
    if sys.argv[1] == "sync":
        ok, msg = sync_with_server(sys.argv[2], sys.argv[3], sys.argv[4])
        print("ok" if ok else "fail: " + msg)
        sys.exit(0 if ok else 1)
    print(json.dumps(get_server_status(sys.argv[2], sys.argv[3])))
