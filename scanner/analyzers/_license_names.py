"""License names as they are written in the wild, and their SPDX readings (data only).

``_licensing`` reads ``License`` fields, trove classifiers and Debian copyright files with
these tables; which evidence wins, and why, is explained there.
"""

from __future__ import annotations

__all__ = ["ALIASES", "CLASSIFIERS", "DEBIAN", "GENERIC_CLASSIFIERS", "GENERIC_NAMES"]

# Common non-SPDX spellings found in ``License:`` fields and Debian copyright files.
ALIASES: dict[str, str] = {
    "mit license": "MIT",
    "the mit license": "MIT",
    "mit/x11": "MIT",
    "expat": "MIT",
    "expat license": "MIT",
    "apache": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "asl 2.0": "Apache-2.0",
    "bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause",
    "3-clause bsd": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "2-clause bsd": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "psf": "PSF-2.0",
    "psfl": "PSF-2.0",
    "psf license": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "mpl 2.0": "MPL-2.0",
    "mpl-2": "MPL-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    # An unversioned (L)GPL lets the user pick any version ever published (GPL §9/§14):
    # SPDX calls that "-or-later" of the first version.
    "lgpl": "LGPL-2.0-or-later",
    "lgplv2+": "LGPL-2.0-or-later",
    "lgplv3": "LGPL-3.0-only",
    "lgplv3+": "LGPL-3.0-or-later",
    "gpl": "GPL-1.0-or-later",
    "gfdl": "GFDL-1.1-or-later",
    "gplv2": "GPL-2.0-only",
    "gplv2+": "GPL-2.0-or-later",
    "gplv3": "GPL-3.0-only",
    "gplv3+": "GPL-3.0-or-later",
    "agplv3": "AGPL-3.0-only",
    "agplv3+": "AGPL-3.0-or-later",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "public domain": "LicenseRef-public-domain",
    "public-domain": "LicenseRef-public-domain",
    "zlib/libpng": "Zlib",
    "hpnd": "HPND",
    "unlicense": "Unlicense",
    "the unlicense (unlicense)": "Unlicense",
    "cc0": "CC0-1.0",
    "wtfpl": "WTFPL",
    "artistic": "Artistic-1.0-Perl",
    "ubuntu-font-licence-1.0": "LicenseRef-Ubuntu-Font-1.0",
}

# Debian short names (DEP-5 §"License specification") whose SPDX form differs.
DEBIAN: dict[str, str] = {
    "gpl-1": "GPL-1.0-only",
    "gpl-1+": "GPL-1.0-or-later",
    "gpl-2": "GPL-2.0-only",
    "gpl-2+": "GPL-2.0-or-later",
    "gpl-3": "GPL-3.0-only",
    "gpl-3+": "GPL-3.0-or-later",
    "lgpl-2": "LGPL-2.0-only",
    "lgpl-2+": "LGPL-2.0-or-later",
    "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-2.1+": "LGPL-2.1-or-later",
    "lgpl-3": "LGPL-3.0-only",
    "lgpl-3+": "LGPL-3.0-or-later",
    "agpl-3": "AGPL-3.0-only",
    "agpl-3+": "AGPL-3.0-or-later",
    "gfdl-1.2": "GFDL-1.2-only",
    "gfdl-1.2+": "GFDL-1.2-or-later",
    "gfdl-1.3": "GFDL-1.3-only",
    "gfdl-1.3+": "GFDL-1.3-or-later",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd-4-clause": "BSD-4-Clause",
    "artistic": "Artistic-1.0-Perl",
    "artistic-2": "Artistic-2.0",
    "mpl-1.1": "MPL-1.1",
    "mpl-2.0": "MPL-2.0",
    "apache-2": "Apache-2.0",
    "apache-2.0": "Apache-2.0",
    "zlib": "Zlib",
    "public-domain": "LicenseRef-public-domain",
    "permissive": "LicenseRef-permissive",
}

# Trove classifiers (the part after "License :: ") → SPDX.
CLASSIFIERS: dict[str, str] = {
    "OSI Approved :: Academic Free License (AFL)": "AFL-3.0",
    "OSI Approved :: Apache Software License": "Apache-2.0",
    "OSI Approved :: Apple Public Source License": "APSL-2.0",
    "OSI Approved :: Artistic License": "Artistic-2.0",
    "OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "OSI Approved :: BSD License": "BSD-3-Clause",
    "OSI Approved :: Common Development and Distribution License 1.0 (CDDL-1.0)": "CDDL-1.0",
    "OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "OSI Approved :: GNU Free Documentation License (FDL)": "GFDL-1.3-or-later",
    "OSI Approved :: GNU General Public License (GPL)": "GPL-1.0-or-later",
    "OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "OSI Approved :: GNU Library or Lesser General Public License (LGPL)": "LGPL-2.0-or-later",
    "OSI Approved :: ISC License (ISCL)": "ISC",
    "OSI Approved :: MIT License": "MIT",
    "OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "OSI Approved :: zlib/libpng License": "Zlib",
    "OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "OSI Approved :: Zope Public License": "ZPL-2.1",
    "OSI Approved :: PostgreSQL License": "PostgreSQL",
    "OSI Approved :: Open Software License 3.0 (OSL-3.0)": "OSL-3.0",
    "OSI Approved :: Eiffel Forum License": "EFL-2.0",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "Public Domain": "LicenseRef-public-domain",
    "Other/Proprietary License": "LicenseRef-proprietary",
    "Freely Distributable": "LicenseRef-freely-distributable",
}


# Classifiers that name a license family but not which member (clauses, version).
GENERIC_CLASSIFIERS = frozenset(
    {
        "OSI Approved",
        "OSI Approved :: BSD License",
        "OSI Approved :: GNU General Public License (GPL)",
        "OSI Approved :: GNU Library or Lesser General Public License (LGPL)",
        "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)",
        "OSI Approved :: Artistic License",
        "OSI Approved :: Apache Software License",
        "OSI Approved :: Zope Public License",
        "OSI Approved :: Academic Free License (AFL)",
        "Other/Proprietary License",
        "Freely Distributable",
    }
)


# ``License`` field values that name a family but not which member (clauses, version).
GENERIC_NAMES = frozenset(
    {"apache", "apache software license", "bsd", "bsd license", "lgpl", "gpl", "gfdl", "artistic"}
)
