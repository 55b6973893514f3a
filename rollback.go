package ripcord

import "strconv"

// RollbackVersion is the version a rollback build of target takes: the next
// patch above the highest version used so far at or above the target. A
// hotfix may have taken 1.2.1, and the stores want a new version above every
// one already released, so 1.2.0 with 1.2.1 taken rolls back as 1.2.2.
func RollbackVersion(target Version, taken []Version) Version {
	hi := target
	for _, t := range taken {
		if t.Compare(hi) > 0 {
			hi = t
		}
	}
	return hi.NextPatch()
}

// NextBuildNumber returns a build number above every one in used, as the
// stores require of a new upload: Android versionCodes are compared as
// integers (the highest ever uploaded to Play counts, not only the live
// one); iOS build numbers compare part by part and the next one raises the
// first part, which keeps it simple to read ("121" after "120.3").
func NextBuildNumber(p Platform, used []string) (string, error) {
	switch p {
	case Android:
		var hi int64
		for _, u := range used {
			n, err := ParseVersionCode(u)
			if err != nil {
				return "", err
			}
			hi = max(hi, n)
		}
		if hi >= MaxVersionCode {
			return "", Errorf(EINVALID, "versionCode %d is Play's maximum; no higher build number exists", hi)
		}
		return strconv.FormatInt(hi+1, 10), nil
	case IOS:
		var hi uint64
		for _, u := range used {
			parts, err := parseDotted(u, "build number (CFBundleVersion)")
			if err != nil {
				return "", err
			}
			hi = max(hi, uint64(parts[0]))
		}
		if hi >= 1<<32-1 {
			return "", Errorf(EINVALID, "build number %d is the largest CFBundleVersion part; no higher build number exists", hi)
		}
		return strconv.FormatUint(hi+1, 10), nil
	}
	return "", Errorf(EINVALID, "platform %q is not known; use ios or android", p)
}
